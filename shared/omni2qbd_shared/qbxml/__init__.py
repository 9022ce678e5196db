"""qbXML: schemas, rendering and parsing shared by the gateway, mapper and simulators."""
