# Staging: the same shape as production, smaller and unprotected. The project id, the
# runner image and the functions archive come from the command line (see cloudbuild.yaml
# and docs/operations.md). Set mail_from to yours before the first apply (the example is
# refused by the variable's validation).
environment        = "staging"
region             = "europe-west1"
firestore_location = "eur3"

runner_shards = 1
runner_cpu    = "1"
runner_memory = "1Gi"

api_domain   = ""
alert_emails = []
mail_from    = "Utio staging <no-reply@utio.example>"

sql_tier              = "db-f1-micro"
sql_high_availability = false
sql_disk_size_gb      = 10

deletion_protection  = false
media_retention_days = 31

function_overrides = {
  api = { min_instances = 0, max_instances = 10 }
}
