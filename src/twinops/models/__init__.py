"""Models: DTDL v2/v3 parsing and validation, stored model versions, compatibility."""
