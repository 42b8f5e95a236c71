import Link from "next/link";

export default function NotFound() {
  return (
    <main id="main">
      <section className="card">
      <h1>Page not found</h1>
      <p>
        Try the <Link href="/analytics">analytics</Link> or <Link href="/play">play</Link> pages.
      </p>
    </section>
    </main>
  );
}
