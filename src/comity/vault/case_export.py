"""The provenance of an evidence package as CASE/UCO JSON-LD (``provenance.case.jsonld``,
format: ``docs/formats/evidence-package.md``).

:func:`case_jsonld` turns what a package's manifest already discloses — its items and
their custody events, and the node's ledger origin — into a graph in the vocabulary of
CASE 1.x (the Cyber-investigation Analysis Standard Expression) and UCO (the Unified
Cyber Ontology), so that forensic tools that read CASE can take in the exhibits and
their chain of custody. It reads nothing else (no extracted metadata, nothing from the
database): the file adds no disclosure to the package, and anyone can rebuild it from
``manifest.json`` and compare. It is informative; what a verifier checks is the
manifest, its signature and the ledger proofs.

Every node's identifier is ``urn:comity:<Class>-<UUID>`` with a UUID that is a function
of what the node stands for (the item's id, the ledger origin and entry index, the
actor's label), so the same item or custody event has the same identifier in every
package of the node, and graphs of several packages merge. Facets follow CASE's
"inherence" convention (UUIDv5 of the object's UUID and the facet class's IRI) and
hashes CASE's hash convention (UUIDv5 of ``urn:hash::sha256:<hex>``). The output is
sorted JSON, so one manifest always gives the same bytes.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any

from comity.ledger.merkle import leaf_hash

COMITY_NAMESPACE = uuid.UUID("87fff0b5-0440-4985-b8d0-c0b2836745df")
"""The UUIDv5 namespace of Comity's identifiers (ledger origins, the tool)."""

_UCO = "https://ontology.unifiedcyberontology.org/uco/"
CONTEXT: dict[str, str] = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "kb": "urn:comity:",
    "uco-action": _UCO + "action/",
    "uco-core": _UCO + "core/",
    "uco-identity": _UCO + "identity/",
    "uco-location": _UCO + "location/",
    "uco-observable": _UCO + "observable/",
    "uco-tool": _UCO + "tool/",
    "uco-types": _UCO + "types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

JsonNode = dict[str, Any]

_STATED = (
    ("who", "uco-action:performer", "uco-identity:Identity"),
    ("where", "uco-action:location", "uco-location:Location"),
    ("tool", "uco-action:instrument", "uco-tool:Tool"),
)
"""Acquisition details that name something: (detail, property of the action, class)."""


def _expand(term: str) -> str:
    prefix, _, local = term.partition(":")
    return CONTEXT[prefix] + local


def _ref(node: JsonNode) -> dict[str, str]:
    return {"@id": node["@id"]}


def _typed(value: object, datatype: str) -> dict[str, object]:
    return {"@type": datatype, "@value": value}


def _node(cls: str, key: uuid.UUID, **properties: Any) -> JsonNode:
    """A node of class ``cls`` (a compact IRI) named by ``key``; ``None`` values are left out."""
    node: JsonNode = {"@id": f"kb:{cls.partition(':')[2]}-{key}", "@type": cls}
    node.update({name: value for name, value in properties.items() if value is not None})
    return node


def _inherent(owner: uuid.UUID, cls: str, **properties: Any) -> JsonNode:
    """A facet or other inherent characterization of the object named ``owner``."""
    return _node(cls, uuid.uuid5(owner, _expand(cls)), **properties)


def _sha256(hex_digest: str) -> JsonNode:
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:hash::sha256:{hex_digest.lower()}")
    return _node(
        "uco-types:Hash",
        key,
        **{
            "uco-types:hashMethod": "SHA256",
            "uco-types:hashValue": _typed(hex_digest.lower(), "xsd:hexBinary"),
        },
    )


def _external(owner: uuid.UUID, context: str, identifier: str) -> JsonNode:
    return _inherent(
        owner,
        "uco-core:ExternalReference",
        **{"uco-core:definingContext": context, "uco-core:externalIdentifier": identifier},
    )


class _Graph:
    """The nodes of one package's graph, keyed by identifier."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.ledger = uuid.uuid5(COMITY_NAMESPACE, f"ledger:{origin}")
        self.nodes: dict[str, JsonNode] = {}
        organisation_key = uuid.uuid5(self.ledger, "organisation")
        self.organisation = self.add(
            _node(
                "uco-identity:Organization",
                organisation_key,
                **{
                    "uco-core:description": (
                        f"The organisation whose Comity node keeps the ledger {origin}."
                    ),
                    "uco-core:externalReference": [
                        _external(organisation_key, "Comity ledger origin", origin)
                    ],
                },
            )
        )
        self.tool = self.add(
            _node(
                "uco-tool:Tool",
                uuid.uuid5(COMITY_NAMESPACE, "tool"),
                **{"uco-core:name": "Comity", "uco-tool:toolType": "evidence vault"},
            )
        )

    def add(self, node: JsonNode) -> JsonNode:
        self.nodes[node["@id"]] = node
        return node

    def actor(self, label: str) -> JsonNode:
        return self.add(
            _node(
                "uco-identity:Identity",
                uuid.uuid5(self.ledger, f"actor:{label}"),
                **{"uco-core:name": label},
            )
        )

    def item(self, item: Mapping[str, Any]) -> None:
        key = uuid.UUID(item["id"])
        file = self.add(_file(key, item))
        if parent := item.get("derived_from"):
            self._derived(file, parent)
        record = self.add(
            _node(
                "case-investigation:ProvenanceRecord",
                uuid.uuid5(key, "provenance-record"),
                **{
                    "case-investigation:exhibitNumber": item["id"],
                    "uco-core:createdBy": _ref(self.organisation),
                    "uco-core:description": (
                        f"Evidence item {item['id']} in the vault of the Comity node whose "
                        f"ledger is {self.origin}."
                    ),
                    "uco-core:object": [_ref(file)],
                    "uco-core:objectCreatedTime": _typed(item["added_at"], "xsd:dateTime"),
                },
            )
        )
        acquisition = self._acquisition(key, item.get("acquisition") or {}, file)
        info = item["file"]
        if info.get("encrypted"):
            self.add(_encrypted_copy(key, info, file))
        for event in item["custody"]:
            ingest = event["ledger_index"] == item["ingest_index"]
            self._custody(
                item["id"],
                event,
                file,
                record=record if ingest else None,
                informed_by=acquisition if ingest else None,
            )

    def _derived(self, file: JsonNode, parent: Mapping[str, Any]) -> None:
        """Link a derived copy to its parent's File: the parent's full File if the package
        holds the parent too, otherwise one known by its SHA-256 alone."""
        key = uuid.UUID(parent["item"])
        content = _inherent(
            key,
            "uco-observable:ContentDataFacet",
            **{"uco-observable:hash": [_sha256(parent["sha256"])]},
        )
        known = _node("uco-observable:File", key, **{"uco-core:hasFacet": [content]})
        self.nodes.setdefault(known["@id"], known)  # the parent's own File wins
        file["uco-core:description"] = (
            f"Derived ({parent['operation']}) from evidence item {parent['item']}."
        )
        file["case-investigation:wasDerivedFrom"] = [_ref(known)]

    def _acquisition(
        self, key: uuid.UUID, details: Mapping[str, Any], file: JsonNode
    ) -> JsonNode | None:
        """The acquisition as stated when the item was added, if anything was stated:
        who, where and with what tool as nodes, the other details in its description."""
        if not details:
            return None
        links: dict[str, JsonNode] = {}
        for name, link, cls in _STATED:
            if name in details:
                node = _node(
                    cls,
                    uuid.uuid5(key, f"acquisition:{name}"),
                    **{"uco-core:name": str(details[name])},
                )
                links[link] = _ref(self.add(node))
        named = {name for name, _, _ in _STATED}
        stated = [
            f"{name}: {value}" for name, value in sorted(details.items()) if name not in named
        ]
        description = "Acquisition as stated when the item was added (not checked by the node)"
        return self.add(
            _node(
                "case-investigation:InvestigativeAction",
                uuid.uuid5(key, "acquisition"),
                **{
                    "uco-core:name": "acquisition",
                    "uco-core:description": "; ".join([description, *stated]) + ".",
                    "uco-action:result": [_ref(file)],
                    **links,
                },
            )
        )

    def _custody(
        self,
        item_id: str,
        event: Mapping[str, Any],
        file: JsonNode,
        *,
        record: JsonNode | None,
        informed_by: JsonNode | None,
    ) -> None:
        """A custody event as an action on ``file``; the ingest results in the item's
        provenance record and was informed by the acquisition."""
        index = int(event["ledger_index"])
        key = uuid.uuid5(self.ledger, f"entry:{index}")
        leaf = leaf_hash(base64.b64decode(event["entry"], validate=True)).hex()
        reference = _external(
            key,
            f"RFC 9162 leaf hash, SHA-256(0x00 || entry), of entry {index} of the Comity "
            f"ledger {self.origin}",
            leaf,
        )
        self.add(
            _node(
                "case-investigation:InvestigativeAction",
                key,
                **{
                    "uco-core:name": str(event["action"]),
                    "uco-core:description": (
                        f"Custody event {event['action']!r} of evidence item {item_id}, "
                        f"entry {index} of the ledger {self.origin}."
                    ),
                    "uco-core:externalReference": [reference],
                    "uco-action:performer": _ref(self.actor(str(event["actor"]))),
                    "uco-action:startTime": _typed(event["at"], "xsd:dateTime"),
                    "uco-action:instrument": [_ref(self.tool)],
                    "uco-action:object": [_ref(file)],
                    "uco-action:result": [_ref(record)] if record else None,
                    "case-investigation:wasInformedBy": (
                        [_ref(informed_by)] if informed_by else None
                    ),
                },
            )
        )


def _file(key: uuid.UUID, item: Mapping[str, Any]) -> JsonNode:
    """The item's original bytes as a ``File``, named by the item's id."""
    info = item["file"]
    size = _typed(int(item["size"]), "xsd:integer")
    facets = [
        _inherent(
            key,
            "uco-observable:FileFacet",
            **{
                "uco-observable:fileName": item["name"],
                "uco-observable:filePath": None if info.get("encrypted") else info["path"],
                "uco-observable:sizeInBytes": size,
            },
        ),
        _inherent(
            key,
            "uco-observable:ContentDataFacet",
            **{
                "uco-observable:hash": [_sha256(item["sha256"])],
                "uco-observable:mimeType": item["media_type"],
                "uco-observable:sizeInBytes": size,
            },
        ),
    ]
    return _node("uco-observable:File", key, **{"uco-core:hasFacet": facets})


def _encrypted_copy(key: uuid.UUID, info: Mapping[str, Any], original: JsonNode) -> JsonNode:
    """The ``.age`` file in the package: the original encrypted to the recipient."""
    copy_key = uuid.uuid5(key, f"age:{info['sha256']}")
    path = str(info["path"])
    facets = [
        _inherent(
            copy_key,
            "uco-observable:FileFacet",
            **{"uco-observable:fileName": path.rpartition("/")[2], "uco-observable:filePath": path},
        ),
        _inherent(
            copy_key,
            "uco-observable:ContentDataFacet",
            **{
                "uco-observable:hash": [_sha256(info["sha256"])],
                "uco-observable:isEncrypted": True,
            },
        ),
    ]
    return _node(
        "uco-observable:File",
        copy_key,
        **{
            "uco-core:description": "The original encrypted to the package's age recipient.",
            "uco-core:hasFacet": facets,
            "case-investigation:wasDerivedFrom": [_ref(original)],
        },
    )


def case_jsonld(manifest: Mapping[str, Any]) -> bytes:
    """The bytes of ``provenance.case.jsonld`` for a package's manifest: the CASE/UCO
    JSON-LD document of its ``log.origin`` and ``items``."""
    graph = _Graph(str(manifest["log"]["origin"]))
    for item in manifest["items"]:
        graph.item(item)
    document = {"@context": CONTEXT, "@graph": [graph.nodes[key] for key in sorted(graph.nodes)]}
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
