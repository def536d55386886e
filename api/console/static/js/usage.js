// Usage: booked and used (completed) contact minutes per tenant and month
// (GET /usage); an operator sees its own tenant, an admin every tenant.
import { api } from "./api.js";
import { emptyNote, errorNote, fmtNumber, fmtTime, h, table } from "./format.js";

export async function render(main, { signal, now }) {
  const month = h("input", { id: "usage-month", name: "month", type: "month", required: true,
    value: fmtTime(now()).slice(0, 7) });
  const form = h("form", { class: "filters", id: "usage-form", "aria-label": "Choose the month" },
    h("label", { for: "usage-month" }, "Month (UTC)", month),
    h("button", { type: "submit" }, "Show usage"));
  const results = h("section", { id: "usage-results", "aria-live": "polite" });
  main.replaceChildren(h("h1", {}, "Usage"),
    h("p", { class: "muted" }, "Minutes from AOS to LOS of the contacts whose AOS falls in the month: booked (not cancelled) and used (completed)."),
    form, results);

  async function load() {
    try {
      const u = await api("/usage", { params: { month: month.value }, signal });
      const total = (f) => u.data.reduce((sum, r) => sum + r[f], 0);
      results.replaceChildren(
        h("p", { id: "usage-range" }, `${u.month}: ${fmtTime(u.start)} to ${fmtTime(u.end)}`),
        u.count
          ? table(["Tenant", "Booked minutes", "Used minutes", "Contacts booked", "Contacts completed"],
            [...u.data.map((r) => [r.tenant, fmtNumber(r.booked_minutes), fmtNumber(r.used_minutes),
              r.contacts_booked, r.contacts_completed]),
            ...(u.count > 1 ? [[h("strong", {}, "All tenants"), fmtNumber(total("booked_minutes")),
              fmtNumber(total("used_minutes")), total("contacts_booked"), total("contacts_completed")]] : [])])
          : emptyNote(`No contact in ${u.month}.`));
    } catch (err) {
      results.replaceChildren(errorNote(err));
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  await load();
}
