"""Harvests a Cairn OAI-PMH endpoint with Sickle (pip install sickle), the way an
aggregator would, and prints what it got as JSON on stdout.

Usage: python3 sickle_harvest.py BASE_URL [GET|POST]
"""
import json
import sys

from sickle import Sickle

base = sys.argv[1]
method = sys.argv[2] if len(sys.argv) > 2 else "GET"
sickle = Sickle(base, http_method=method, max_retries=0, timeout=60)

identify = sickle.Identify()
records = []
for r in sickle.ListRecords(metadataPrefix="oai_dc"):
    records.append(
        {
            "identifier": r.header.identifier,
            "datestamp": r.header.datestamp,
            "sets": r.header.setSpecs,
            "title": (r.metadata.get("title") or [""])[0],
        }
    )
identifiers = [h.identifier for h in sickle.ListIdentifiers(metadataPrefix="oai_dc")]
sets = [{"spec": s.setSpec, "name": s.setName} for s in sickle.ListSets()]
by_set = {
    s["spec"]: [h.identifier for h in sickle.ListIdentifiers(metadataPrefix="oai_dc", set=s["spec"])]
    for s in sets
}
formats = [f.metadataPrefix for f in sickle.ListMetadataFormats()]
print(
    json.dumps(
        {
            "repositoryName": identify.repositoryName,
            "granularity": identify.granularity,
            "records": records,
            "identifiers": identifiers,
            "sets": sets,
            "by_set": by_set,
            "formats": formats,
        },
        ensure_ascii=False,
    )
)
