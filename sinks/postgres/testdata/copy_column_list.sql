COPY "analytics"."Events" ("user_id", "Page", "ts") FROM 's3://staging/manifests/m' CREDENTIALS 'aws_access_key_id=AKIA;aws_secret_access_key=s3cr3t' MANIFEST JSON 'auto' GZIP TIMEFORMAT 'auto'
