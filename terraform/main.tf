# Utio on Google Cloud: one environment per project. The names of queues, topics,
# functions and secrets are the code's (modules/catalog reads generated/names.json);
# docs/operations.md is the operator's guide.

data "google_project" "this" {
  project_id = var.project_id
}

module "catalog" {
  source             = "./modules/catalog"
  queue_overrides    = var.queue_overrides
  function_overrides = var.function_overrides
}

locals {
  functions = module.catalog.functions
  shards    = [for i in range(var.runner_shards) : "runner-${i}"]

  # One service account per component: every function target, and the runner.
  components = merge(
    { for t, f in local.functions : t => f.name },
    { runner = "utio-runner" },
  )
  wiring = merge(local.functions, { runner = module.catalog.runner })

  # A function's URL is known before it exists (Cloud Run's deterministic form), which
  # lets a function be told its own URL (webhook_deliver re-enqueues itself).
  run_url = "https://%s-${data.google_project.this.number}.${var.region}.run.app"

  # Settings (shared/settings.py) every component reads. Push endpoints are private
  # Cloud Run services: Cloud Run checks each OIDC token (signature, audience, and the
  # push account's run.invoker) before a request reaches the code, so the code's own
  # check stays off here (UTIO_VERIFY_OIDC).
  common_env = {
    UTIO_ENV                   = "production"
    UTIO_PROJECT               = var.project_id
    UTIO_REGION                = var.region
    UTIO_STORE_BACKEND         = "firestore"
    UTIO_BUS_BACKEND           = "pubsub"
    UTIO_TASKS_BACKEND         = "cloudtasks"
    UTIO_TASKS_SERVICE_ACCOUNT = module.iam.push_email
    UTIO_VERIFY_OIDC           = "false"
    UTIO_WEBHOOK_DELIVER_URL   = format(local.run_url, local.functions["webhook_deliver"].name)
    UTIO_MEDIA_BUCKET          = module.storage.media_bucket
    UTIO_DEFAULT_TRANSPORT     = "whatsapp"
    RESTART_GENERATION         = var.restart_generation
  }
  # The functions' own settings: where the API answers (Stripe Checkout and the billing
  # portal send customers back there), who mails come from, and the seller's VAT country.
  function_env = merge(local.common_env, {
    UTIO_RUNNER_URL       = module.runner.urls["runner-0"]
    UTIO_PUBLIC_URL       = module.api_gateway.url
    UTIO_MAIL_FROM        = var.mail_from
    UTIO_VAT_HOME_COUNTRY = var.vat_home_country
    # people sign in with Identity Platform (shared/person_tokens.py)
    UTIO_IDENTITY_BACKEND = "firebase"
    UTIO_IDENTITY_API_KEY = module.web.api_key
    UTIO_SELF_SIGNUP      = tostring(var.self_signup)
  })

  # The runner's own settings: where the API answers (inbound media URLs point at its
  # /v1/devices/{id}/media), who its mails (a device gone non-operative) come from, how
  # many sessions a shard holds. Each shard is also told its own URL and shard name, and
  # whether it may provision more (modules/runner).
  runner_env = merge(local.common_env, {
    UTIO_PUBLIC_URL     = module.api_gateway.url
    UTIO_MAIL_FROM      = var.mail_from
    UTIO_SHARD_CAPACITY = tostring(var.runner_shard_capacity)
  })

  member = { for c, email in module.iam.emails : c => "serviceAccount:${email}" }

  queue_enqueuers = merge([
    for c, w in local.wiring : { for q in w.enqueues : "${q}/${c}" => { queue = q, member = local.member[c] } }
  ]...)
  topic_publishers = merge([
    for c, w in local.wiring : { for t in w.publishes : "${t}/${c}" => { topic = t, member = local.member[c] } }
  ]...)
  secret_accessors = merge([
    for c, w in local.wiring : { for s in w.secrets : "${s}/${c}" => { env = s, member = local.member[c] } }
  ]...)
  media_users = { for c, w in local.wiring : c => local.member[c] if w.media }
}

module "services" {
  source     = "./modules/services"
  project_id = var.project_id
}

module "iam" {
  source          = "./modules/iam"
  project_id      = var.project_id
  components      = local.components
  firestore_users = toset(keys(local.components))
  enqueuers       = toset([for c, w in local.wiring : c if length(w.enqueues) > 0])

  depends_on = [module.services]
}

module "network" {
  source      = "./modules/network"
  project_id  = var.project_id
  region      = var.region
  subnet_cidr = var.subnet_cidr

  depends_on = [module.services]
}

module "firestore" {
  source              = "./modules/firestore"
  project_id          = var.project_id
  location            = var.firestore_location
  deletion_protection = var.deletion_protection
  indexes             = module.catalog.firestore_indexes
  ttl                 = module.catalog.firestore_ttl

  depends_on = [module.services]
}

module "storage" {
  source               = "./modules/storage"
  project_id           = var.project_id
  region               = var.region
  media_retention_days = var.media_retention_days
  media_users          = local.media_users
  source_readers       = { build = "serviceAccount:${module.iam.build_email}" }
  backup_writers = {
    firestore = "serviceAccount:${module.services.firestore_agent}"
    sql       = "serviceAccount:${module.sql.service_account}"
  }

  depends_on = [module.services]
}

module "registry" {
  source           = "./modules/registry"
  project_id       = var.project_id
  region           = var.region
  function_builder = "serviceAccount:${module.iam.build_email}"

  depends_on = [module.services]
}

module "sql" {
  source              = "./modules/sql"
  project_id          = var.project_id
  region              = var.region
  network_id          = module.network.network_id
  tier                = var.sql_tier
  high_availability   = var.sql_high_availability
  disk_size_gb        = var.sql_disk_size_gb
  deletion_protection = var.deletion_protection
  password_rotation   = lookup(var.secret_rotation, "UTIO_SESSION_DB_URL", "initial")

  depends_on = [module.network]
}

module "secrets" {
  source     = "./modules/secrets"
  project_id = var.project_id
  region     = var.region
  secrets    = module.catalog.secrets
  values     = { UTIO_SESSION_DB_URL = module.sql.dsn }
  accessors  = local.secret_accessors
  rotation   = var.secret_rotation

  depends_on = [module.services]
}

module "tasks" {
  source     = "./modules/tasks"
  project_id = var.project_id
  region     = var.region
  queues     = module.catalog.queues
  enqueuers  = local.queue_enqueuers

  depends_on = [module.services]
}

module "runner" {
  source              = "./modules/runner"
  project_id          = var.project_id
  region              = var.region
  shards              = local.shards
  image               = var.runner_image
  cpu                 = var.runner_cpu
  memory              = var.runner_memory
  service_account     = module.iam.emails["runner"]
  environment         = local.runner_env
  secrets             = { for s in module.catalog.runner.secrets : s => module.secrets.ids[s] }
  network_id          = module.network.network_id
  subnet_id           = module.network.subnet_id
  url_format          = local.run_url
  provision           = var.runner_autoprovision
  deletion_protection = var.deletion_protection
  invokers = {
    push   = "serviceAccount:${module.iam.push_email}"
    api    = local.member["api"]
    runner = local.member["runner"]
  }

  depends_on = [module.secrets, module.firestore]
}

module "functions" {
  source                = "./modules/functions"
  project_id            = var.project_id
  region                = var.region
  functions             = local.functions
  source_zip            = "${path.root}/${var.functions_zip}"
  source_bucket         = module.storage.sources_bucket
  build_service_account = module.iam.build_id
  docker_repository     = module.registry.functions_repository
  service_accounts      = module.iam.emails
  environment           = local.function_env
  secret_ids            = module.secrets.ids
  invokers = {
    push    = "serviceAccount:${module.iam.push_email}"
    gateway = "serviceAccount:${module.iam.gateway_email}"
  }

  depends_on = [module.secrets, module.firestore, module.tasks]
}

module "pubsub" {
  source                    = "./modules/pubsub"
  project_id                = var.project_id
  topics                    = module.catalog.topics
  fanout_endpoint           = module.functions.urls["webhook_fanout"]
  push_service_account      = module.iam.push_email
  push_service_account_name = module.iam.push_name
  pubsub_agent              = module.services.pubsub_agent
  publishers                = local.topic_publishers
}

module "scheduler" {
  source     = "./modules/scheduler"
  project_id = var.project_id
  region     = var.region
  jobs = {
    for t, f in local.functions : t => {
      name     = f.name
      schedule = f.schedule
      url      = module.functions.urls[t]
      timeout  = f.timeout
    } if f.schedule != null
  }
  service_account = module.iam.push_email

  depends_on = [module.services]
}

# The gateway calls the api function at its deterministic URL rather than at
# module.functions' output: the functions are told the gateway's URL (UTIO_PUBLIC_URL),
# so the gateway must not wait for them.
module "api_gateway" {
  source                  = "./modules/api_gateway"
  project_id              = var.project_id
  region                  = var.region
  document                = "${path.root}/generated/openapi.gateway.json"
  backend_url             = format(local.run_url, local.functions["api"].name)
  gateway_service_account = module.iam.gateway_email
  domain                  = var.api_domain
  rate_limit_per_minute   = var.api_rate_limit_per_minute
  web_backend             = module.web.backend_bucket
}

# The web app's files behind Cloud CDN (the load balancer above serves them beside /v1),
# and Identity Platform, with which people sign in to it.
module "web" {
  source     = "./modules/web"
  project_id = var.project_id
  domain     = var.api_domain

  depends_on = [module.services]
}

# The API manages people's identities: invitations create them, deleting an agent deletes
# its identity.
resource "google_project_iam_member" "api_identity" {
  project = var.project_id
  role    = "roles/firebaseauth.admin"
  member  = local.member["api"]
}

module "monitoring" {
  source                    = "./modules/monitoring"
  project_id                = var.project_id
  emails                    = var.alert_emails
  runner_services           = values(module.runner.services)
  deliver_service           = module.functions.names["webhook_deliver"]
  fanout_subscription       = module.catalog.topics.fanout_subscription
  dead_letter_subscription  = module.pubsub.dead_letter_subscription
  dead_letter_threshold     = var.dead_letter_alert_threshold
  webhook_failure_ratio     = var.webhook_failure_ratio
  firestore_error_threshold = var.firestore_error_threshold

  depends_on = [module.services]
}
