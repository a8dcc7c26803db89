#!/usr/bin/python3
"""An upstream IdP built with pysaml2 (an independent SAML implementation), for interop tests.

Reads one JSON object on stdin:
  command                          "respond" (default), "metadata" or "logout"
  entityId, keyPem, certPem       the IdP's identity
  wantSigned                       the IdP requires signed AuthnRequests (pysaml2's want_authn_requests_signed);
                                   pysaml2 7.0 checks them in the HTTP-POST binding (enveloped signature)
  ssoBinding                       "redirect" (default) or "post": the IdP's SSO endpoint, <entityId>/sso
  spMetadata                       the broker's SP metadata (XML)
  samlRequest                      the broker's AuthnRequest as sent in ssoBinding (HTTP-Redirect: base64 of deflated
                                   XML; HTTP-POST: base64 of XML), or null for an unsolicited (IdP-initiated) response
  acsUrl                           where an unsolicited response goes
  user: {email, firstName, lastName, groups}
  profile: "okta" | "wso2"        attribute names to use
  relayState                       (logout) the RelayState that came with the broker's LogoutRequest
"respond" writes {"samlResponse": <base64>, "destination": <url>, "inResponseTo": <id or null>};
"metadata" writes {"metadata": <the IdP's metadata XML, SSO and SLO (HTTP-Redirect, <entityId>/slo) endpoints>};
"logout" reads samlRequest (the broker's LogoutRequest, HTTP-Redirect) and writes {"location": <the URL of the IdP's
UNSIGNED LogoutResponse, HTTP-Redirect, as SimpleSAMLphp sends it by default>, "inResponseTo": <id>}.
"""
import base64, json, os, sys, tempfile

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
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
command = args.get("command", "respond")
sso_binding = BINDING_HTTP_POST if args.get("ssoBinding") == "post" else BINDING_HTTP_REDIRECT

config = IdPConfig()
config.load({
    "entityid": args["entityId"],
    "service": {"idp": {
        "endpoints": {
            "single_sign_on_service": [(args["entityId"] + "/sso", sso_binding)],
            "single_logout_service": [(args["entityId"] + "/slo", BINDING_HTTP_REDIRECT)],
        },
        "want_authn_requests_signed": bool(args.get("wantSigned")),
        "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None, "name_form": NAME_FORMAT_BASIC}},
        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
        "sign_response": True,
        "sign_assertion": True,
    }},
    "key_file": key_file,
    "cert_file": cert_file,
    **({"metadata": {"local": [write("sp.xml", args["spMetadata"])]}} if args.get("spMetadata") else {}),
    "xmlsec_binary": "/usr/bin/xmlsec1",
    "attribute_map_dir": None,
    "allow_unknown_attributes": True,
})
if command == "metadata":
    print(json.dumps({"metadata": str(entity_descriptor(config))}))
    sys.exit(0)

idp = Server(config=config)

if command == "logout":
    req = idp.parse_logout_request(args["samlRequest"], BINDING_HTTP_REDIRECT)
    resp = idp.create_logout_response(req.message, [BINDING_HTTP_REDIRECT], sign=False)
    http = idp.apply_binding(BINDING_HTTP_REDIRECT, str(resp), resp.destination, args.get("relayState"), response=True, sign=False)
    print(json.dumps({"location": dict(http["headers"])["Location"], "inResponseTo": req.message.id}))
    sys.exit(0)

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
    req = idp.parse_authn_request(args["samlRequest"], sso_binding)
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
