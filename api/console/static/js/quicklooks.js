// Quick-looks: every image file a dataset exposes (waterfall, Es/N0,
// constellation, the rebuilt image...), shown in the page. Generic: an image
// is any file of the dataset listing whose media type is image/* or whose
// name ends in an image extension, and any image named by another list of
// the dataset (thumbnails, quick-looks) that is one of its files. Each is
// fetched with the key (an <img src> cannot send it); thumbnails when they
// scroll into view.
import { fetchFileBlob } from "./api.js";
import { errorNote, h } from "./format.js";

const IMAGE_NAME = /\.(png|jpe?g|gif|webp|svg)$/i;

function isImage(entry) {
  const type = entry.media_type || entry.content_type || entry.mime_type || "";
  return type.startsWith("image/") || IMAGE_NAME.test(entry.name || "");
}

/** The names of the image files of dataset `d`, in listing order, once each. */
export function imageFiles(d) {
  const files = Array.isArray(d.files) ? d.files : [];
  const known = new Set(files.map((f) => f.name));
  const names = files.filter(isImage).map((f) => f.name);
  for (const [field, value] of Object.entries(d)) {
    if (field === "files" || !Array.isArray(value)) continue;
    for (const item of value) {
      const name = typeof item === "string" ? item : item && (item.name || item.file || item.path);
      if (typeof name === "string" && IMAGE_NAME.test(name) && known.has(name)) names.push(name);
    }
  }
  return [...new Set(names)];
}

let observer = null;

function whenVisible(element, load) {
  if (!("IntersectionObserver" in window)) {
    load();
    return;
  }
  if (observer === null) {
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        observer.unobserve(e.target);
        e.target.loadQuickLook();
      }
    }, { rootMargin: "200px" });
  }
  element.loadQuickLook = load;
  observer.observe(element);
}

function quickLook(d, name, { large }) {
  const img = h("img", { alt: `Quick-look ${name} of dataset ${d.id}`, "data-file": name, class: large ? "large" : "thumb" });
  const figure = h("figure", { class: "quicklook" }, img, h("figcaption", {}, name));
  const load = async () => {
    try {
      const blob = await fetchFileBlob(d.id, name);
      img.src = URL.createObjectURL(blob);
      img.addEventListener("load", () => { img.dataset.loaded = "true"; }, { once: true });
    } catch (err) {
      figure.append(errorNote(err));
    }
  };
  if (large) load(); // the contact page's few images: at once
  else whenVisible(figure, load); // a page of datasets' thumbnails: when seen
  return figure;
}

/** A gallery of dataset `d`'s quick-looks, or null when it has none. */
export function quickLooks(d, { large = false } = {}) {
  const names = imageFiles(d);
  if (!names.length) return null;
  return h("div", { class: `quicklooks${large ? " large" : ""}`, "data-dataset": d.id, role: "group",
    "aria-label": `Quick-looks of dataset ${d.id}` },
  names.map((name) => quickLook(d, name, { large })));
}
