# Production. Set api_domain, alert_emails and mail_from to yours before the first apply (the
# examples below are refused by the variables' validation).
environment        = "production"
region             = "europe-west1"
firestore_location = "eur3"

runner_shards = 1
runner_cpu    = "1"
runner_memory = "2Gi"

api_domain   = "api.utio.example"
alert_emails = ["oncall@utio.example"]
mail_from    = "Utio <no-reply@utio.example>"

sql_tier              = "db-custom-1-3840"
sql_high_availability = true
sql_disk_size_gb      = 20

deletion_protection  = true
media_retention_days = 31
