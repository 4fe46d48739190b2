import json

from functions.greeting import greet


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"message": greet(event.get("name", "world"))})}
