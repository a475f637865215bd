"""A smoke test of offhours in a real AWS account (`make smoke`), and its clean-up
(`make smoke-clean`).

It does not ship in the Lambda package (the stack's CodeUri is `src/`). Everything after the
deploy (launch, invoke, check, clean up) lives in `smoke.steps` and takes boto3 clients and a
way to invoke the function, so that `tests/test_smoke.py` runs the same steps against the local
endpoint in `make test` (`smoke.local`), and the script cannot rot. `smoke.account` is the
part that only a real account runs: the account check, `sam deploy`, Lambda's Invoke and
CloudWatch Logs.
"""
