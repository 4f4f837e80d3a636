export function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>There is no page at this address. <a href="/devices">Go to your devices</a>.</p>
    </section>
  );
}
