"""Price List documents shipped for the local endpoint, which answers GetProducts from them
(`offhours.local.PriceListService`): one file a region, `<region>.json`, whose `about` says
where its prices come from and `products` holds GetProducts' documents (aws_v1).

They are demo and test data: offhours asks AWS's Price List API for prices, never these files.
"""

# What the documents are, for a line of text (the demo's): us-east-1.json's `about`, shortly.
RECORDED = "the local endpoint's us-east-1 documents of 2026-12-02"
