#!/usr/bin/python3
"""A downstream app (SAML SP) built with pysaml2 (an independent SAML implementation), for interop tests: it parses
a Response the broker posted to it, as an SP would at its ACS, and reports what it made of it.

Reads one JSON object on stdin:
  idpMetadata       the broker's IdP metadata (XML): the only trusted signing certificates
  entityId, acsUrl  the app's identity and the ACS the Response is posted to
  requestId         the ID of the AuthnRequest the app sent (its one outstanding request)
  samlResponse      the SAMLResponse form field (base64)
Writes {"outcome": "success" | "status_error" | "refused", "error": <class name or null>, "message": ...,
"inResponseTo": ..., "nameId": ...} on stdout.
"""
import json, os, sys, tempfile

from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.response import StatusError

args = json.load(sys.stdin)
work = tempfile.mkdtemp(prefix="pysaml2-sp-")
idp_md = os.path.join(work, "idp.xml")
with open(idp_md, "w") as f:
    f.write(args["idpMetadata"])

config = SPConfig()
config.load({
    "entityid": args["entityId"],
    "service": {"sp": {
        "endpoints": {"assertion_consumer_service": [(args["acsUrl"], BINDING_HTTP_POST)]},
        "allow_unsolicited": False,
        "want_response_signed": True,
        "want_assertions_signed": False,
        "authn_requests_signed": False,
    }},
    "metadata": {"local": [idp_md]},
    "xmlsec_binary": "/usr/bin/xmlsec1",
    "allow_unknown_attributes": True,
})
client = Saml2Client(config=config)

out = {"outcome": None, "error": None, "message": None, "inResponseTo": None, "nameId": None}
try:
    response = client.parse_authn_request_response(args["samlResponse"], BINDING_HTTP_POST, outstanding={args["requestId"]: "/"})
    out["outcome"] = "success"
    out["inResponseTo"] = response.in_response_to
    out["nameId"] = response.name_id.text if response.name_id else None
except StatusError as e:
    # The Response was signed by the trusted IdP and answers our request: its status says the login failed.
    out["outcome"] = "status_error"
    out["error"] = type(e).__name__
    out["message"] = str(e)
except Exception as e:  # bad signature, unsolicited, malformed...
    out["outcome"] = "refused"
    out["error"] = type(e).__name__
    out["message"] = str(e)
print(json.dumps(out))
