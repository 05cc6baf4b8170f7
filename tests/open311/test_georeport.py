"""Open311 GeoReport v2 through a third-party client.

Drives a running `signalons serve` with the `georeport` package from PyPI (service list,
definitions, requests, one request; JSON and XML through xmltodict), and checks the XML
documents again with Python's own xml.etree. georeport has no call to create requests, so
requests are created with a plain form-encoded POST, as the spec describes, and read back
through the client.

    python test_georeport.py --base http://127.0.0.1:8080/open311/v2 --api-key sgn_...

Prints one line per test and a final 'N passed, N failed'; exits non-zero on any failure.
"""

import argparse
import sys
import traceback
import xml.etree.ElementTree as ET

import requests
from georeport import GeoReport

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Ctx:
    def __init__(self, base, api_key):
        self.base = base.rstrip("/")
        self.api_key = api_key
        self.json = GeoReport(self.base, jurisdiction="boston", api_key=api_key)
        self.xml = GeoReport(self.base, jurisdiction="boston", api_key=api_key, output_format="xml")
        self.created = {}

    def post(self, path, data, params=None):
        return requests.post(f"{self.base}/{path}", data=data, params=params, timeout=30)

    def get(self, path, params=None):
        return requests.get(f"{self.base}/{path}", params=params, timeout=30)

    def etree(self, path, params=None):
        response = self.get(path, params)
        assert response.headers["Content-Type"].startswith("text/xml"), response.headers
        assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>'), response.text[:80]
        return response.status_code, ET.fromstring(response.content)


def as_list(value):
    return value if isinstance(value, list) else [value]


@test
def services_list_in_json(ctx):
    services = ctx.json.get_service_list()
    assert len(services) == 35, len(services)
    pothole = next(s for s in services if s["service_code"] == "pothole")
    assert pothole["service_name"] == "Pothole"
    assert pothole["metadata"] is True
    assert all(isinstance(s["service_code"], str) for s in services)


@test
def services_list_in_xml(ctx):
    services = ctx.xml.get_service_list()
    assert len(services) == 35, len(services)
    graffiti = next(s for s in services if s["service_code"] == "graffiti")
    assert graffiti["metadata"] == "true"
    status, root = ctx.etree("services.xml")
    assert status == 200 and root.tag == "services"
    assert len(root.findall("service")) == 35
    assert root.find("service/service_code").text


@test
def service_definition_in_json(ctx):
    definition = ctx.json.get_service_definition("pothole")
    assert definition["service_code"] == "pothole"
    codes = [a["code"] for a in definition["attributes"]]
    assert codes == ["position", "depth_cm"], codes
    position = definition["attributes"][0]
    assert position["datatype"] == "singlevaluelist" and position["required"] is True
    assert {v["key"] for v in position["values"]} >= {"travel_lane", "bike_lane"}


@test
def service_definition_in_xml(ctx):
    definition = ctx.xml.get_service_definition("graffiti")
    attributes = as_list(definition["attributes"]["attribute"])
    assert attributes[0]["code"] == "surface"
    assert attributes[0]["datatype"] == "multivaluelist"
    keys = [v["key"] for v in as_list(attributes[0]["values"]["value"])]
    assert keys == ["wall", "pole", "utility_box", "other"], keys
    status, root = ctx.etree("services/street_light_out.xml")
    assert status == 200 and root.tag == "service_definition"
    datatypes = [a.findtext("datatype") for a in root.findall("attributes/attribute")]
    assert datatypes == ["string", "datetime"], datatypes


@test
def create_with_attributes_in_json_and_read_back(ctx):
    response = ctx.post("requests.json", {
        "api_key": ctx.api_key,
        "jurisdiction_id": "boston",
        "service_code": "pothole",
        "lat": "42.3467",
        "long": "-71.0972",
        "description": "Deep hole in the right lane, café side",
        "attribute[position]": "travel_lane",
        "attribute[depth_cm]": "8",
        "email": "resident@example.org",
        "first_name": "Ada",
        "device_id": "georeport-suite",
    })
    assert response.status_code == 200, response.text
    created = response.json()
    assert isinstance(created, list) and len(created) == 1, created
    request_id = created[0]["service_request_id"]
    assert isinstance(request_id, str)
    ctx.created["pothole"] = request_id

    request = ctx.json.get_service_request(request_id)
    assert request["service_request_id"] == request_id
    assert request["service_code"] == "pothole"
    assert request["status"] == "open"
    assert request["description"] == "Deep hole in the right lane, café side"
    assert request["agency_responsible"]
    assert abs(request["lat"] - 42.3467) < 1e-9
    raw = ctx.get(f"requests/{request_id}.json").text
    assert "resident@example.org" not in raw and "Ada" not in raw

    request = ctx.xml.get_service_request(request_id)
    assert request["service_request_id"] == request_id
    assert request["status"] == "open"
    status, root = ctx.etree(f"requests/{request_id}.xml")
    assert status == 200 and root.tag == "service_requests"
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [request_id]


@test
def create_with_a_list_attribute_in_xml_and_read_back(ctx):
    response = ctx.post("requests.xml", [
        ("service_code", "graffiti"),
        ("lat", "42.3555"),
        ("long", "-71.0603"),
        ("description", "Tags on the utility box & the wall <again>"),
        ("attribute[surface][]", "wall"),
        ("attribute[surface][]", "utility_box"),
        ("attribute[details]", "Two metres wide"),
    ], params={"api_key": ctx.api_key})
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.tag == "service_requests"
    request_id = root.findtext("request/service_request_id")
    assert request_id and root.findtext("request/token") == request_id
    ctx.created["graffiti"] = request_id

    listed = ctx.xml.get_service_requests(service_request_id=request_id)
    listed = as_list(listed)
    assert listed[0]["service_code"] == "graffiti"
    assert listed[0]["description"] == "Tags on the utility box & the wall <again>"
    token = ctx.get(f"tokens/{request_id}.json").json()
    assert token[0]["service_request_id"] == request_id


@test
def list_with_filters(ctx):
    ids = ",".join(ctx.created.values())
    both = ctx.json.get_service_requests(service_request_id=ids)
    assert {r["service_request_id"] for r in both} == set(ctx.created.values())
    potholes = ctx.json.get_service_requests(service_code="pothole", status="open")
    assert ctx.created["pothole"] in [r["service_request_id"] for r in potholes]
    assert all(r["service_code"] == "pothole" for r in potholes)
    closed = ctx.json.get_service_requests(status="closed")
    assert ctx.created["pothole"] not in [r["service_request_id"] for r in closed]
    listed = as_list(ctx.xml.get_service_requests(service_code="graffiti"))
    assert ctx.created["graffiti"] in [r["service_request_id"] for r in listed]
    old = ctx.json.get_service_requests(start_date="2015-01-01T00:00:00Z", end_date="2015-02-01T00:00:00Z")
    assert old == [], old


@test
def errors_are_spec_arrays(ctx):
    response = ctx.post("requests.json", {"service_code": "pothole", "lat": "42.3467", "long": "-71.0972"})
    assert response.status_code == 403, response.status_code
    body = response.json()
    assert body[0]["code"] == 403 and body[0]["description"]
    response = ctx.post("requests.xml", {"api_key": ctx.api_key, "service_code": "pothole",
                                          "address_string": "1 City Hall Square"})
    assert response.status_code == 400
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    descriptions = [e.findtext("description") for e in root.findall("error")]
    assert any("geocoder" in d for d in descriptions), descriptions
    try:
        ctx.json.get_service_definition("no_such_service")
    except requests.HTTPError as error:
        assert error.response.status_code == 404
        assert error.response.json()[0]["code"] == 404
    else:
        raise AssertionError("an unknown service must be a 404")
    unknown = GeoReport(ctx.base, jurisdiction="atlantis")
    try:
        unknown.get_service_list()
    except requests.HTTPError as error:
        assert error.response.status_code == 404
    else:
        raise AssertionError("an unknown jurisdiction must be a 404")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    ctx = Ctx(args.base, args.api_key)
    passed = failed = 0
    for fn in TESTS:
        try:
            fn(ctx)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAILED {fn.__name__}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok     {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
