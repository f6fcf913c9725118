"""The AWS side of the CloudWatch Logs tests, with boto3 against a moto server.

    cloudwatch.py setup PORT GROUP STREAM   -> {"id": ..., "secret": ...}
        (unauthenticated: moto's first requests are not checked) a user allowed
        logs:*, its access key, the log group and the stream.
    cloudwatch.py events PORT ID SECRET GROUP STREAM -> ["message", ...]
        every message of the stream, read with the user's key.
"""

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


def setup(port, group, stream):
    iam = client("iam", port)
    iam.create_user(UserName="sluice")
    key = iam.create_access_key(UserName="sluice")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="sluice", PolicyName="logs", PolicyDocument=json.dumps(policy))
    logs = client("logs", port)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))


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
    {"setup": setup, "events": events}[command](*args)
