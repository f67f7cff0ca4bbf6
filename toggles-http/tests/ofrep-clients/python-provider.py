"""The OpenFeature Python SDK with `openfeature-provider-ofrep` against the toggles router at
sys.argv[1]: evaluates the flag for 2,000 users (how many it is on for), a setting, a flag as
the wrong type, and a toggle the service does not declare; prints what it got as one JSON
object."""

import json
import sys

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

api.set_provider(OFREPProvider(base_url=sys.argv[1]))
client = api.get_client()


def details(kind, key, default, context=None):
    resolve = getattr(client, f"get_{kind}_details")
    got = resolve(key, default, context)
    code = got.error_code.value if got.error_code else None
    return {"value": got.value, "reason": got.reason, "variant": got.variant, "error": code}


on = sum(
    1
    for n in range(2000)
    if client.get_boolean_value("grading.new_grader", False, EvaluationContext(f"user-{n}"))
)
print(
    json.dumps(
        {
            "on_of_2000": on,
            "vip": details("boolean", "grading.new_grader", False, EvaluationContext("vip")),
            "setting": details("integer", "uploads.max_upload_bytes", 0),
            "mismatch": details("string", "grading.new_grader", "x", EvaluationContext("vip")),
            "missing": details("boolean", "grading.nope", True),
        }
    )
)
