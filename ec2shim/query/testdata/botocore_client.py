# Copyright 2026 The PiNet Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Drives the query package's test server with botocore's EC2 client.

Usage: botocore_client.py ENDPOINT. Prints what botocore parsed, as JSON, for the Go test to check.
"""

import datetime
import json
import sys

import botocore.session
from botocore.exceptions import ClientError


def main(endpoint):
    client = botocore.session.get_session().create_client(
        "ec2",
        region_name="pinet",
        endpoint_url=endpoint,
        aws_access_key_id="AKIDPINETTEST",
        aws_secret_access_key="secret",
    )
    out = {}
    # botocore base64-encodes UserData itself.
    out["run"] = client.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=1,
        MaxCount=3,
        KeyName="admin-key",
        UserData="#!/bin/sh\necho hi\n",
        SecurityGroups=["default", "web"],
        SecurityGroupIds=["sg-0aaaaaaaaaaaaaaa1"],
        Placement={"AvailabilityZone": "pinet-a"},
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 20, "DeleteOnTermination": True}},
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ],
        TagSpecifications=[
            {"ResourceType": "instance",
             "Tags": [{"Key": "Name", "Value": "web 1"}, {"Key": "env", "Value": "prod"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "backup", "Value": ""}]},
        ],
        ClientToken="token-1",
        InstanceType="m1.small",
        KernelId="aki-00000001",
        RamdiskId="ari-00000001",
        Monitoring={"Enabled": False},
        DisableApiTermination=True,
        DryRun=False,
    )
    try:
        client.terminate_instances(InstanceIds=["i-1"])
    except ClientError as e:
        out["error"] = {
            "Code": e.response["Error"]["Code"],
            "Message": e.response["Error"]["Message"],
            "Status": e.response["ResponseMetadata"]["HTTPStatusCode"],
            "RequestId": e.response["ResponseMetadata"].get("RequestId", ""),
        }
    json.dump(out, sys.stdout, default=lambda o: o.isoformat()
              if isinstance(o, datetime.datetime) else str(o))


if __name__ == "__main__":
    main(sys.argv[1])
