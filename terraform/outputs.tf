output "api_url" {
  description = "Base URL of the public API (append /v1/health)."
  value       = module.api_gateway.url
}

output "api_gateway_host" {
  description = "The gateway's own host (*.gateway.dev), reachable with or without a custom domain."
  value       = module.api_gateway.gateway_host
}

output "api_ip_address" {
  description = "With api_domain: create an A record of the domain to this address."
  value       = module.api_gateway.ip_address
}

output "stripe_webhook_url" {
  description = "The endpoint to register in Stripe (null until the stripe_webhook target exists in shared/names.py)."
  value       = contains(keys(local.functions), "stripe_webhook") ? format(local.run_url, local.functions["stripe_webhook"].name) : null
}

output "function_urls" {
  description = "Function target => URL (private except stripe_webhook)."
  value       = module.functions.urls
}

output "scheduler_jobs" {
  description = "Scheduled function target => Cloud Scheduler job (run one by hand: gcloud scheduler jobs run NAME --location=REGION)."
  value       = module.scheduler.jobs
}

output "runner_urls" {
  description = "Shard => URL (internal)."
  value       = module.runner.urls
}

output "runner_repository" {
  description = "Push runner images here."
  value       = module.registry.runner_repository
}

output "buckets" {
  description = "Media, function sources and backups buckets."
  value = {
    media   = module.storage.media_bucket
    sources = module.storage.sources_bucket
    backups = module.storage.backups_bucket
  }
}

output "session_db_instance" {
  value = module.sql.instance
}

output "secrets" {
  description = "Environment variable => Secret Manager secret id."
  value       = module.secrets.ids
}

output "alert_policies" {
  value = module.monitoring.policies
}

output "web_bucket" {
  description = "The bucket of the web app's built files (Cloud Build uploads web/dist there)."
  value       = module.web.bucket
}
