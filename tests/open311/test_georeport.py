"""Open311 GeoReport v2 through third-party clients from PyPI, against the Boston demo.

Two real clients drive a running `signalons serve`:

- `georeport` (0.3.1): services, definitions, request lists and single requests, in JSON and in
  XML (parsed by xmltodict). It has no call to create requests, tokens or discovery.
- `civicbot` (0.4.0): an Open311 client that creates requests (form-encoded POST, JSON only),
  validating them first against the live service list and definition; it also reads tokens.

XML documents are parsed again with Python's own xml.etree, and the discovery document (no
client reads it) with plain HTTP.

    python test_georeport.py --base http://127.0.0.1:8080/open311/v2 --api-key sgn_...

Prints one line per test and a final 'N passed, N failed'; exits non-zero on any failure.
"""

import argparse
import sys
import traceback
import xml.etree.ElementTree as ET

import requests
from civicbot import Endpoint, HttpError, HttpTransport, Open311Client
from civicbot.http import RateLimiter
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
        endpoint = Endpoint(id="signalons-boston", name="Signalons (Boston demo)",
                            base_url=self.base, write=True)
        # civicbot waits between calls to one host, politely; this server is ours.
        transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0.0))
        self.civicbot = Open311Client(endpoint, transport=transport, jurisdiction_id="boston")
        self.created = {}

    def create(self, service_code, **fields):
        """Files a request through civicbot, checked against the live definition first."""
        prepared = self.civicbot.create_request(
            service_code, dry_run=False, confirm="SEND", api_key=self.api_key,
            validate_remote=True, **fields)
        answer = prepared.response
        assert isinstance(answer, list) and len(answer) == 1, answer
        return answer[0]

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
def discovery_in_json_and_xml(ctx):
    discovery = ctx.get("discovery.json").json()
    endpoint = discovery["endpoints"][0]
    assert endpoint["url"] == ctx.base, endpoint
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    status, root = ctx.etree("discovery.xml")
    assert status == 200 and root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == \
        ["application/json", "text/xml"]


@test
def services_list_in_json(ctx):
    services = ctx.json.get_service_list()
    assert len(services) == 35, len(services)
    pothole = next(s for s in services if s["service_code"] == "pothole")
    assert pothole["service_name"] == "Pothole"
    assert pothole["metadata"] is True
    assert all(isinstance(s["service_code"], str) for s in services)
    assert [s["service_code"] for s in ctx.civicbot.list_services()] == \
        [s["service_code"] for s in services]


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
def create_with_attributes_through_civicbot_and_read_back(ctx):
    created = ctx.create(
        "pothole", lat=42.3467, lng=-71.0972,
        description="Deep hole in the right lane, café side",
        attributes={"position": "travel_lane", "depth_cm": "8"},
        email="resident@example.org", first_name="Ada", device_id="georeport-suite",
        media_url="https://photos.example.org/boston/hole.jpg")
    request_id = created["service_request_id"]
    assert isinstance(request_id, str) and created["token"] == request_id
    assert created["service_notice"]
    ctx.created["pothole"] = request_id

    request = ctx.json.get_service_request(request_id)
    assert request["service_request_id"] == request_id
    assert request["service_code"] == "pothole"
    assert request["status"] == "open"
    assert request["description"] == "Deep hole in the right lane, café side"
    assert request["agency_responsible"]
    assert request["media_url"] == "https://photos.example.org/boston/hole.jpg"
    assert abs(request["lat"] - 42.3467) < 1e-9
    raw = ctx.get(f"requests/{request_id}.json").text
    assert "resident@example.org" not in raw and "Ada" not in raw

    request = ctx.xml.get_service_request(request_id)
    assert request["service_request_id"] == request_id
    assert request["status"] == "open"
    status, root = ctx.etree(f"requests/{request_id}.xml")
    assert status == 200 and root.tag == "service_requests"
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [request_id]

    token = ctx.civicbot.get_token(request_id)
    assert token == [{"service_request_id": request_id, "token": request_id}], token
    assert ctx.civicbot.get_request(request_id)["service_request_id"] == request_id


@test
def create_a_multi_value_answer_through_civicbot_and_read_it_in_xml(ctx):
    created = ctx.create(
        "graffiti", lat=42.3555, lng=-71.0603,
        description="Tags on the utility box & the wall <again>",
        attributes={"surface": ["wall", "utility_box"], "details": "Two metres wide"})
    request_id = created["service_request_id"]
    ctx.created["graffiti"] = request_id
    listed = as_list(ctx.xml.get_service_requests(service_request_id=request_id))
    assert listed[0]["service_code"] == "graffiti"
    assert listed[0]["description"] == "Tags on the utility box & the wall <again>"
    status, root = ctx.etree(f"tokens/{request_id}.xml")
    assert status == 200 and root.findtext("request/token") == request_id


@test
def create_at_an_address_through_civicbot(ctx):
    created = ctx.create("damaged_sign", address_string="33 Beacon Street, Boston MA",
                         description="Sign bent over")
    assert "33 Beacon St, Boston, MA 02108" in created["service_notice"], created
    request = ctx.json.get_service_request(created["service_request_id"])
    assert request["address"] == "33 Beacon St, Boston, MA 02108"
    assert abs(request["lat"] - 42.3574) < 0.001, request
    corner = ctx.create("damaged_sign", address_string="Melnea Cass Blvd and Hampden St")
    request = ctx.xml.get_service_request(corner["service_request_id"])
    assert request["address"] == "Hampden St & Melnea Cass Blvd, Roxbury, MA", request


@test
def create_in_xml_with_the_key_in_the_query_string(ctx):
    # civicbot posts JSON only; the XML answer to a create is read with xml.etree.
    response = ctx.post("requests.xml", [
        ("service_code", "street_light_out"),
        ("lat", "42.3555"),
        ("long", "-71.0603"),
        ("attribute[noticed_at]", "2026-11-30T20:15:00-05:00"),
    ], params={"api_key": ctx.api_key})
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.tag == "service_requests"
    request_id = root.findtext("request/service_request_id")
    assert request_id and root.findtext("request/token") == request_id


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
    mine = ctx.civicbot.list_requests(service_request_ids=list(ctx.created.values()))
    assert {r["service_request_id"] for r in mine} == set(ctx.created.values())


@test
def the_boston_history_is_listed_by_date(ctx):
    # The demo holds Boston's real cases of January-April 2015.
    january = ctx.json.get_service_requests(start_date="2015-01-01T00:00:00-05:00",
                                            end_date="2015-01-08T00:00:00-05:00")
    assert 100 <= len(january) <= 1000, len(january)
    assert all("2015-01-01T05" <= r["requested_datetime"] <= "2015-01-08T05" for r in january)
    assert {r["status"] for r in january} == {"open", "closed"}
    closed_lights = ctx.json.get_service_requests(
        service_code="street_light_out", status="closed",
        start_date="2015-02-01T00:00:00Z", end_date="2015-03-01T00:00:00Z")
    assert closed_lights and all(r["status"] == "closed" for r in closed_lights)
    assert any(r["status_notes"] for r in closed_lights)
    in_xml = as_list(ctx.xml.get_service_requests(start_date="2015-01-01T00:00:00-05:00",
                                                  end_date="2015-01-08T00:00:00-05:00"))
    assert len(in_xml) == len(january)


@test
def errors_are_spec_arrays(ctx):
    response = ctx.post("requests.json", {"service_code": "pothole", "lat": "42.3467", "long": "-71.0972"})
    assert response.status_code == 403, response.status_code
    body = response.json()
    assert body[0]["code"] == 403 and body[0]["description"]
    response = ctx.post("requests.xml", {"api_key": ctx.api_key, "service_code": "damaged_sign",
                                          "address_string": "999 Nowhere Lane"})
    assert response.status_code == 400
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    descriptions = [e.findtext("description") for e in root.findall("error")]
    assert any("not an address this server knows" in d for d in descriptions), descriptions
    try:
        ctx.create("damaged_sign", address_string="15 Chestnut St")
    except HttpError as error:
        assert error.status == 400
        assert "names several places" in error.body, error.body
    else:
        raise AssertionError("an address in three neighborhoods must be refused")
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
    huge = ctx.post("requests.xml", {"api_key": ctx.api_key, "service_code": "pothole",
                                      "description": "x" * 1_000_000})
    assert huge.status_code == 413
    assert ET.fromstring(huge.content).findtext("error/code") == "413"


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
