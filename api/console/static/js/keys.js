// API keys (admins only): every key with its role and tenants; create one
// (the key is shown once, here, and never again) and revoke one.
import { api } from "./api.js";
import { emptyNote, errorNote, fmtTime, h, table } from "./format.js";

function scopeOf(k) {
  if (k.role === "operator") return `tenant ${k.tenant}`;
  if (k.role === "scientist") return `reads ${k.granted_tenants.join(", ")}`;
  return "every tenant";
}

function createForm(onCreated) {
  const field = (id, label, control) => h("label", { for: id }, label, control);
  const name = h("input", { id: "key-name", name: "name", type: "text", required: true, maxlength: 120 });
  const role = h("select", { id: "key-role", name: "role" },
    ["operator", "scientist", "admin"].map((r) => h("option", { value: r }, r)));
  const tenant = h("input", { id: "key-tenant", name: "tenant", type: "text", maxlength: 120 });
  const grants = h("input", { id: "key-grants", name: "granted_tenants", type: "text",
    "aria-describedby": "key-grants-help" });
  const shown = h("div", { id: "key-created", role: "status" });
  const form = h("form", { class: "filters", id: "key-form", "aria-label": "Create an API key" },
    field("key-name", "Name (who or what uses it)", name), field("key-role", "Role", role),
    field("key-tenant", "Tenant (operator)", tenant),
    field("key-grants", "Granted tenants (scientist)", grants),
    h("button", { type: "submit" }, "Create key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    shown.replaceChildren();
    try {
      const k = await api("/api-keys", {
        method: "POST",
        body: {
          name: name.value.trim(), role: role.value, tenant: role.value === "operator" ? tenant.value.trim() : "",
          granted_tenants: role.value === "scientist" ? grants.value.split(",").map((t) => t.trim()).filter(Boolean) : [],
        },
      });
      shown.replaceChildren(
        h("p", { class: "ok" }, `Key "${k.name}" (${k.role}, ${scopeOf(k)}) created. Copy it now: it is not shown again.`),
        h("input", { id: "key-value", type: "text", readonly: true, value: k.key, size: 50, "aria-label": "the new API key" }));
      form.reset();
      onCreated();
    } catch (err) {
      shown.replaceChildren(h("p", { class: "error refused", role: "alert" }, `Refused: ${err.message}`));
    }
  });
  return [form, h("p", { id: "key-grants-help", class: "muted" }, "Granted tenants: comma-separated."), shown];
}

function revokeButton(k, onRevoked) {
  if (k.revoked_at) return `revoked ${fmtTime(k.revoked_at)}`;
  const note = h("span", { role: "status" });
  const button = h("button", { type: "button", "data-key": k.id, "aria-label": `Revoke key ${k.name} (${k.id})` }, "Revoke");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api(`/api-keys/${encodeURIComponent(k.id)}/revoke`, { method: "POST" });
      onRevoked();
    } catch (err) {
      button.disabled = false;
      note.replaceChildren(errorNote(err));
    }
  });
  return h("span", {}, button, note);
}

export async function render(main, { signal }) {
  const showRevoked = h("input", { id: "keys-revoked", type: "checkbox" });
  const list = h("section", { id: "keys-list", "aria-live": "polite" });
  async function load() {
    try {
      const keys = await api("/api-keys", { params: { include_revoked: showRevoked.checked ? "true" : "" }, signal });
      list.replaceChildren(
        h("p", { id: "keys-count" }, `${keys.count} key${keys.count === 1 ? "" : "s"}`),
        keys.count
          ? table(["Name", "Role", "Scope", "Created", "Id", "Revoke"],
            keys.data.map((k) => [k.name, k.role, scopeOf(k), fmtTime(k.created_at), k.id,
              revokeButton(k, load)]))
          : emptyNote("No key."));
    } catch (err) {
      list.replaceChildren(errorNote(err));
    }
  }
  showRevoked.addEventListener("change", load);
  main.replaceChildren(h("h1", {}, "API keys"),
    h("p", { class: "muted" }, "Only a key's hash is stored: a new key is shown once, when it is created."),
    h("h2", {}, "New key"), ...createForm(load),
    h("h2", {}, "Keys"),
    h("label", { for: "keys-revoked", class: "inline" }, showRevoked, " Show revoked keys"),
    list);
  await load();
}
