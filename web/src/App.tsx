import { LocationProvider, Route, Router } from "preact-iso";
import { Layout } from "./components/Layout";
import { NotFound } from "./pages/NotFound";
import { Pricing } from "./pages/Pricing";

export function App() {
  return (
    <LocationProvider>
      <Layout>
        <Router>
          <Route path="/" component={Pricing} />
          <Route path="/pricing" component={Pricing} />
          <Route default component={NotFound} />
        </Router>
      </Layout>
    </LocationProvider>
  );
}
