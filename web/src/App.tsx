import { useEffect } from "preact/hooks";
import { LocationProvider, Route, Router } from "preact-iso";
import { Layout } from "./components/Layout";
import { ApiKeys, Billing, Docs, Numbers, Profile, Team } from "./pages/Account";
import { ChatHome } from "./pages/chat/ChatHome";
import { Inbox } from "./pages/chat/Inbox";
import { Action, ForgotPassword, Login, Signup, VerifyEmail } from "./pages/Auth";
import { DeviceDetail, Devices } from "./pages/Devices";
import { MessageDetail, Messages } from "./pages/Messages";
import { NotFound } from "./pages/NotFound";
import { Pricing } from "./pages/Pricing";
import { Send } from "./pages/Send";
import { WebhookDetail, Webhooks } from "./pages/Webhooks";
import { start } from "./session";

export function App() {
  useEffect(() => void start(), []);
  return (
    <LocationProvider>
      <Layout>
        <Router>
          <Route path="/" component={Devices} />
          <Route path="/login" component={Login} />
          <Route path="/signup" component={Signup} />
          <Route path="/verify-email" component={VerifyEmail} />
          <Route path="/forgot-password" component={ForgotPassword} />
          <Route path="/action" component={Action} />
          <Route path="/pricing" component={Pricing} />
          <Route path="/devices" component={Devices} />
          <Route path="/devices/:id" component={DeviceDetail} />
          <Route path="/send" component={Send} />
          <Route path="/s/messages/create" component={Send} />
          <Route path="/messages" component={Messages} />
          <Route path="/messages/:id" component={MessageDetail} />
          <Route path="/chat" component={ChatHome} />
          <Route path="/chat/:device" component={Inbox} />
          <Route path="/chat/:device/:phone" component={Inbox} />
          <Route path="/webhooks" component={Webhooks} />
          <Route path="/webhooks/:id" component={WebhookDetail} />
          <Route path="/api-keys" component={ApiKeys} />
          <Route path="/team" component={Team} />
          <Route path="/billing" component={Billing} />
          <Route path="/numbers" component={Numbers} />
          <Route path="/profile" component={Profile} />
          <Route path="/docs" component={Docs} />
          <Route default component={NotFound} />
        </Router>
      </Layout>
    </LocationProvider>
  );
}
