# Crawls a metadata server the way cloud-init's EC2 datasource does: an IMDSv2 token first,
# then the meta-data tree and user-data with cloud-init's own helpers. Prints them as JSON.
import base64
import json
import sys
import urllib.request

from cloudinit.sources.helpers import ec2

base, version = sys.argv[1], sys.argv[2]
req = urllib.request.Request(
    base + "/latest/api/token",
    method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
)
token = urllib.request.urlopen(req, timeout=60).read().decode()


def headers(url):
    return {"X-aws-ec2-metadata-token": token}


meta = ec2.get_instance_metadata(
    api_version=version, metadata_address=base, headers_cb=headers, timeout=60, retries=0
)
user = ec2.get_instance_userdata(
    api_version=version, metadata_address=base, headers_cb=headers, timeout=60, retries=0
)
if isinstance(user, str):
    user = user.encode()
print(json.dumps({"meta": meta, "user": base64.b64encode(user).decode()}, sort_keys=True))
