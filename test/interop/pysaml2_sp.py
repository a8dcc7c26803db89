#!/usr/bin/python3
"""A downstream SP (an app of the broker) built with pysaml2 (an independent SAML implementation), for interop tests.
pysaml2's own defaults are kept, request signing aside: with authn_requests_signed it signs with its default
algorithms, RSA-SHA1 and SHA-1 digests in pysaml2 7.

Reads one JSON object on stdin:
  command                          "metadata", "request" or "response"
  entityId, keyPem, certPem       the SP's identity; its ACS is <entityId>/acs (HTTP-POST)
  idpMetadata                      the broker's IdP metadata (XML), for "request" and "response"
  binding                          (request) "redirect" or "post"
  relayState                       (request) the RelayState to send
  samlResponse, requestId          (response) the broker's Response (base64) and the ID of the request it answers
"metadata" writes {"metadata": <XML>}; "request" writes {"id", "url"} (redirect) or {"id", "action", "fields"} (post);
"response" writes {"nameId", "issuer", "attributes"} once pysaml2 accepted the Response, and fails otherwise.
"""
import base64, html, json, os, re, sys, tempfile

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor

args = json.load(sys.stdin)
work = tempfile.mkdtemp(prefix="pysaml2-sp-")
def write(name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path

config = SPConfig()
config.load({
    "entityid": args["entityId"],
    "service": {"sp": {
        "endpoints": {"assertion_consumer_service": [(args["entityId"] + "/acs", BINDING_HTTP_POST)]},
        "authn_requests_signed": True,
    }},
    "key_file": write("sp.key", args["keyPem"]),
    "cert_file": write("sp.crt", args["certPem"]),
    **({"metadata": {"local": [write("idp.xml", args["idpMetadata"])]}} if args.get("idpMetadata") else {}),
    "xmlsec_binary": "/usr/bin/xmlsec1",
    "allow_unknown_attributes": True,
})

if args["command"] == "metadata":
    print(json.dumps({"metadata": str(entity_descriptor(config))}))
    sys.exit(0)

client = Saml2Client(config=config)
idp_entity_id = next(iter(client.metadata.identity_providers()))

if args["command"] == "request":
    binding = BINDING_HTTP_POST if args["binding"] == "post" else BINDING_HTTP_REDIRECT
    reqid, _, info = client.prepare_for_negotiated_authenticate(entityid=idp_entity_id, binding=binding, relay_state=args.get("relayState", ""), sign=True)
    if binding == BINDING_HTTP_REDIRECT:
        print(json.dumps({"id": reqid, "url": dict(info["headers"])["Location"]}))
    else:
        page = info["data"]
        action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))
        fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}
        print(json.dumps({"id": reqid, "action": action, "fields": fields}))
    sys.exit(0)

response = client.parse_authn_request_response(args["samlResponse"], BINDING_HTTP_POST, outstanding={args["requestId"]: "/"})
if response is None:
    sys.exit("pysaml2 did not accept the response")
print(json.dumps({"nameId": response.name_id.text, "issuer": response.issuer(), "attributes": response.ava}))
