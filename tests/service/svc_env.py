"""Constants shared by the service tests and their conftest."""

# The real client refuses keys shorter than 40 word characters.
API_KEY = "caravanTestKey_" + "Q7x9" * 10
ENTITY, PROJECT = "caravan-team", "caravan"
REAL_RUN = "tinyreal1"
