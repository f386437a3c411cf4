"""Copies one of etcd's v3 API .proto files without what only Go's code generators read:
the gogoproto and google.api imports, the file-level `option (gogoproto.*)` lines and the
`option (google.api.http) = {...};` blocks (grpc-gateway's REST mapping). Messages,
fields, numbers and services are untouched, so the wire format is etcd's.

    strip_options.py IN OUT
"""
import re
import sys

text = open(sys.argv[1]).read()
text = re.sub(r'^import "(gogoproto/gogo|google/api/annotations)\.proto";\n', "", text, flags=re.M)
text = re.sub(r"^option \(gogoproto\.[a-z_]+\) = [a-z]+;\n", "", text, flags=re.M)


def drop_http_options(text):
    """Each `option (google.api.http) = {...};`, nested braces (additional_bindings) included."""
    out, pos = [], 0
    while True:
        start = text.find("option (google.api.http)", pos)
        if start < 0:
            return "".join(out) + text[pos:]
        i, depth = text.index("{", start), 0
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        end = text.index(";", i) + 1
        out.append(text[pos:start].rstrip(" "))
        pos = end


text = drop_http_options(text)
# `rpc X(A) returns (B) {}` with an empty body is valid proto3; keep it.
if "gogoproto" in text or "google.api" in text:
    sys.exit("strip_options: %s still names gogoproto or google.api" % sys.argv[1])
open(sys.argv[2], "w").write(text)
