DROP TABLE incident_follows;
