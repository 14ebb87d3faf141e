"""The secrets from AWS Secrets Manager (as deployed: deploy/resources.json sets SECRETS_ARN and no
secret in the environment), through the real path: Chalice's test client, moto, the SDK against
the emulator."""
from __future__ import annotations

import json

import boto3
import pytest

from local.dropbox_emulator import signed_notification
from local.in_process import AUTH, KEY, running_service
from local.sample_photos import jpeg

NO_SECRETS_IN_THE_ENVIRONMENT = {"SERVICE_KEY": "", "DROPBOX_APP_KEY": "", "DROPBOX_APP_SECRET": "",
                                 "DROPBOX_REFRESH_TOKEN": ""}


@pytest.fixture
def secret_arn(aws, dropbox_fake):
    return boto3.client("secretsmanager").create_secret(Name="image-categorizer", SecretString=json.dumps({
        "DROPBOX_APP_KEY": dropbox_fake.app_key, "DROPBOX_APP_SECRET": dropbox_fake.app_secret,
        "DROPBOX_REFRESH_TOKEN": dropbox_fake.refresh_token, "SERVICE_KEY": KEY}))["ARN"]


def test_with_the_secrets_in_secrets_manager_the_service_takes_its_key_and_sorts_with_its_dropbox_token(
        dropbox_fake, secret_arn):
    with running_service(dropbox_fake, SECRETS_ARN=secret_arn, **NO_SECRETS_IN_THE_ENVIRONMENT) as service:
        assert service.get("/status", headers={**AUTH, "Authorization": "Bearer wrong"}).status_code == 401
        service.configure(["cat"])
        service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
        service.notify()
        service.source.drain(timeout=60)
        assert service.dropbox.files("/") == {"/Cat/chelsea.jpg": jpeg("chelsea")}


def test_a_secret_missing_a_value_is_a_503_naming_it(dropbox_fake, aws):
    arn = boto3.client("secretsmanager").create_secret(
        Name="incomplete", SecretString=json.dumps({"SERVICE_KEY": KEY}))["ARN"]
    with running_service(dropbox_fake, SECRETS_ARN=arn, **NO_SECRETS_IN_THE_ENVIRONMENT) as service:
        response = service.get("/status")
        assert response.status_code == 503
        assert "DROPBOX_APP_KEY" in json.loads(response.body)["Message"]


@pytest.mark.parametrize("stored", [{"SERVICE_KEY": 12345}, {"DROPBOX_APP_SECRET": {"value": "s3cret"}}],
                         ids=["a number", "an object"])
def test_a_secret_value_that_is_not_a_string_is_a_503_naming_it_on_keyed_routes_and_the_webhook(
        dropbox_fake, aws, stored):
    values = {"DROPBOX_APP_KEY": dropbox_fake.app_key, "DROPBOX_APP_SECRET": dropbox_fake.app_secret,
              "DROPBOX_REFRESH_TOKEN": dropbox_fake.refresh_token, "SERVICE_KEY": KEY, **stored}
    arn = boto3.client("secretsmanager").create_secret(Name="mistyped", SecretString=json.dumps(values))["ARN"]
    (name,) = stored
    with running_service(dropbox_fake, SECRETS_ARN=arn, **NO_SECRETS_IN_THE_ENVIRONMENT) as service:
        body, signature = signed_notification([dropbox_fake.account_id], dropbox_fake.app_secret)
        for response in (service.get("/status"), service.client.http.post(
                "/webhook", body=body, headers={"Content-Type": "application/json", "X-Dropbox-Signature": signature})):
            assert response.status_code == 503, response.body
            message = json.loads(response.body)["Message"]
            assert name in message and "must be a string" in message, message
        # The routes that need no secret still answer.
        assert service.get("/", headers={}).status_code == 200
        assert service.get("/webhook?challenge=abc", headers={}).body == b"abc"
