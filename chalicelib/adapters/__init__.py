"""The outside world behind the ports: Dropbox, DynamoDB, SQS and Secrets Manager."""
