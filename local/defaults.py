"""Where `make run` serves the API and the key it uses unless SERVICE_KEY says otherwise: the
command line's defaults too. The key is well known and only ever local."""

LOCAL_STACK_URL = "http://127.0.0.1:8000"
LOCAL_STACK_KEY = "local-service-key"
