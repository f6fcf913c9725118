"""The AWS side of the CloudWatch Logs and S3 tests, with boto3 against a moto server.

    aws.py setup PORT GROUP STREAM   -> {"id": ..., "secret": ...}
        (unauthenticated: moto's first requests are not checked) a user allowed
        logs:*, its access key, the log group and the stream.
    aws.py events PORT ID SECRET GROUP STREAM -> ["message", ...]
        every message of the stream, read with the user's key.
    aws.py setup-s3 PORT BUCKET   -> {"id": ..., "secret": ...}
        (unauthenticated) a user allowed s3:*, its access key, and the bucket.
    aws.py objects PORT ID SECRET BUCKET -> [{"key", "content_type",
        "content_encoding", "lines"}, ...]
        every object of the bucket, read with the user's key, gunzipped when its name
        ends .gz.
"""

import gzip
import json
import sys

import boto3


def client(service, port, key_id="setup", secret="setup"):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def user(port, action):
    """A user allowed `action` on everything, and its key: three requests."""
    iam = client("iam", port)
    iam.create_user(UserName="sluice")
    key = iam.create_access_key(UserName="sluice")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }
    iam.put_user_policy(UserName="sluice", PolicyName="sluice", PolicyDocument=json.dumps(policy))
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def setup(port, group, stream):
    key = user(port, "logs:*")
    logs = client("logs", port)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    print(json.dumps(key))


def setup_s3(port, bucket):
    key = user(port, "s3:*")
    client("s3", port).create_bucket(Bucket=bucket)
    print(json.dumps(key))


def objects(port, key_id, secret, bucket):
    s3 = client("s3", port, key_id, secret)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for listed in page.get("Contents", []):
            got = s3.get_object(Bucket=bucket, Key=listed["Key"])
            body = got["Body"].read()
            if listed["Key"].endswith(".gz"):
                body = gzip.decompress(body)
            found.append({
                "key": listed["Key"],
                "content_type": got.get("ContentType"),
                "content_encoding": got.get("ContentEncoding"),
                "lines": body.decode().splitlines(),
            })
    print(json.dumps(found))


def events(port, key_id, secret, group, stream):
    logs = client("logs", port, key_id, secret)
    messages, token = [], None
    while True:
        kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        messages.extend(event["message"] for event in page["events"])
        if not page["events"] or page.get("nextForwardToken") == token:
            break
        token = page.get("nextForwardToken")
    print(json.dumps(messages))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {"setup": setup, "events": events, "setup-s3": setup_s3, "objects": objects}
    commands[command](*args)
