"""Request paths for the forward-auth tests: spellings that reach a family, and ones refused."""

# Paths that reach the NQL API however a gateway or server spells them. A token holding only
# "workflows" used to pass for every one of them.
TRICKS = {
    "/api/v1/workflows/../nql/execute": "nql",
    "/api/v1/%6eql/execute": "nql",
    "/api/v1/%6Eql/execute": "nql",
    "//api/v1/nql/execute": "nql",
    "/api/v1//nql/execute": "nql",
    "/API/v1/nql/execute": "nql",
    "/api/v1/./nql/execute": "nql",
    "/api/v1/x/../act/execute": "remote-actions",
    "/../api/v1/nql/execute": "nql",
    "/2/query": "nql",
    "/2/query?query=(select%20(name)%20(from%20device))": "nql",
    "/api/configuration/v1/engines": "engines",
    "/audit-trail/api/v1/engine/e-1/type/auditlog": "audit-trail",
    "http://gateway.example/api/v1/nql/execute": "nql",
}
# Paths gateways and servers read in different ways: refused whatever the token.
REFUSED = {
    "/api/v1/nql;x/execute": "';'",
    "/api/v1/workflows/..;/nql/execute": "';'",
    "/api/v1/workflows%2F..%2Fnql/execute": "encoded slash",
    "/api/v1/workflows%2f..%2fnql/execute": "encoded slash",
    "/api/v1/workflows/%5c..%5cnql/execute": "encoded slash",
    "/api/v1/workflows/%2e%2e/nql/execute": "encoded dot segment",
    "/api/v1/workflows/.%2E/nql/execute": "encoded dot segment",
    "/api/v1/workflows//../../nql/execute": "both // and a dot segment",
    "/api/v1/nql/execute%00": "encoded control character",
    "/api/v1/nql/execute\x00": "control character",
    "/api/v1/nql/exe%zzcute": "bad percent-encoding",
    "/api/v1/nql/execute%": "bad percent-encoding",
    "/api/v1/workflows\\..\\nql\\execute": "backslash",
    "/api/v1/nql/ex\xe9cute": "not ASCII",
    "api/v1/nql/execute": "must start with /",
    "/" + "a" * 9000: "longer than",
}
