# terraform init -reconfigure -backend-config=envs/production.backend.hcl
# The bucket is made once by hand (docs/operations.md, "Deploy from zero").
bucket = "utio-production-tfstate"
prefix = "utio/production"
