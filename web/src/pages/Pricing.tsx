import { useEffect, useState } from "preact/hooks";
import { api, problemOf, type Problem, type Schemas } from "../api/client";

export function euros(cents: number): string {
  return new Intl.NumberFormat("en", { style: "currency", currency: "EUR" }).format(cents / 100);
}

export function PlansTable({ plans }: { plans: Schemas["PlanOut"][] }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Plans and prices</caption>
        <thead>
          <tr>
            <th scope="col">Plan</th>
            <th scope="col">Price (30 days, excl. VAT)</th>
            <th scope="col">Messages a month</th>
            <th scope="col">Number checks</th>
            <th scope="col">Agents included</th>
            <th scope="col">Max speed (msg/min)</th>
          </tr>
        </thead>
        <tbody>
          {plans.map((plan) => (
            <tr key={plan.id}>
              <th scope="row">{plan.name}</th>
              <td>{euros(plan.price_eur_cents)}</td>
              <td>{plan.messages_per_month.toLocaleString("en")}</td>
              <td>{plan.number_checks_per_month.toLocaleString("en")}</td>
              <td>{plan.agents_included}</td>
              <td>{plan.max_delivery_speed}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Pricing() {
  const [plans, setPlans] = useState<Schemas["PlanList"] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    api.GET("/v1/plans").then(({ data, error, response }) => {
      if (data) setPlans(data);
      else setProblem(problemOf(error, response.status));
    }, () => setProblem(problemOf(undefined)));
  }, []);
  return (
    <section>
      <h1>Pricing</h1>
      <p>Every device has its own plan. New devices start with a free trial
        {plans ? ` of ${plans.trial_days} days` : ""}.</p>
      {problem && <p role="alert" class="error">{problem.message}</p>}
      {plans ? <PlansTable plans={plans.data} /> : !problem && <p aria-busy="true">Loading plans…</p>}
    </section>
  );
}
