#!/usr/bin/python3
"""An upstream IdP built with pysaml2 (an independent SAML implementation), for interop tests.

Reads one JSON object on stdin:
  entityId, keyPem, certPem       the IdP's identity
  spMetadata                       the broker's SP metadata (XML)
  samlRequest                      the broker's AuthnRequest as sent over HTTP-Redirect (base64 of deflated XML),
                                   or null for an unsolicited (IdP-initiated) response
  acsUrl                           where an unsolicited response goes
  user: {email, firstName, lastName, groups}
  profile: "okta" | "wso2"        attribute names to use
Writes {"samlResponse": <base64>, "destination": <url>, "inResponseTo": <id or null>} on stdout.
"""
import base64, json, os, sys, tempfile

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.saml import NAME_FORMAT_BASIC
from saml2.server import Server
from saml2.saml import AUTHN_PASSWORD_PROTECTED

args = json.load(sys.stdin)
work = tempfile.mkdtemp(prefix="pysaml2-idp-")
def write(name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path

key_file = write("idp.key", args["keyPem"])
cert_file = write("idp.crt", args["certPem"])
sp_md = write("sp.xml", args["spMetadata"])

config = IdPConfig()
config.load({
    "entityid": args["entityId"],
    "service": {"idp": {
        "endpoints": {"single_sign_on_service": [(args["entityId"] + "/sso", BINDING_HTTP_REDIRECT)]},
        "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None, "name_form": NAME_FORMAT_BASIC}},
        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
        "sign_response": True,
        "sign_assertion": True,
    }},
    "key_file": key_file,
    "cert_file": cert_file,
    "metadata": {"local": [sp_md]},
    "xmlsec_binary": "/usr/bin/xmlsec1",
    "attribute_map_dir": None,
    "allow_unknown_attributes": True,
})
idp = Server(config=config)

user = args["user"]
if args.get("profile") == "wso2":
    identity = {
        "http://wso2.org/claims/emailaddress": [user["email"]],
        "http://wso2.org/claims/givenname": [user["firstName"]],
        "http://wso2.org/claims/lastname": [user["lastName"]],
        "http://wso2.org/claims/role": user["groups"],
    }
else:
    identity = {"Email": [user["email"]], "firstName": [user["firstName"]], "lastName": [user["lastName"]], "groups": user["groups"]}

in_response_to = None
if args.get("samlRequest"):
    req = idp.parse_authn_request(args["samlRequest"], BINDING_HTTP_REDIRECT)
    in_response_to = req.message.id
    sp_entity_id = req.message.issuer.text
    destination = req.message.assertion_consumer_service_url
else:
    sp_entity_id = idp.metadata.service_providers()[0]
    destination = args["acsUrl"]

resp = idp.create_authn_response(
    identity,
    in_response_to=in_response_to,
    destination=destination,
    sp_entity_id=sp_entity_id,
    name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["email"]),
    authn={"class_ref": AUTHN_PASSWORD_PROTECTED},
    sign_response=True,
    sign_assertion=True,
    sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
)
print(json.dumps({"samlResponse": base64.b64encode(str(resp).encode()).decode(), "destination": destination, "inResponseTo": in_response_to}))
