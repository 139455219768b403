COPY "t" ("we""ird") FROM 's3://b/it''s' CREDENTIALS 'aws_iam_role=arn:aws:iam::1:role/o''brien' MANIFEST
