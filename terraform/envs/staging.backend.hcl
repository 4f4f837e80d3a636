# terraform init -reconfigure -backend-config=envs/staging.backend.hcl
# The bucket is made once by hand (docs/operations.md, "Deploy from zero").
bucket = "utio-staging-tfstate"
prefix = "utio/staging"
