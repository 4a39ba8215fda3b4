// The local registry: each repository with its images (tags, digest, push time, size), newest
// push first (GET /api/v1/images, ECR's DescribeRepositories and DescribeImages shapes). Each
// image-pushed or image-deleted event refetches the listing (at most one read in flight).

function pushedAt(img) {
  const t = img.imagePushedAt ? Date.parse(img.imagePushedAt) : NaN;
  return Number.isNaN(t) ? 0 : t / 1000;
}

function size(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export default {
  path: /^\/registry\/?$/,
  title: "Registry",
  async render(main, params, ctx) {
    const {api, h, subscribe, fmt} = ctx;
    let data = await api.get("/api/v1/images");
    const list = h("div", {class: "rg-list"});
    const filter = h("input", {id: "rg-filter", type: "search", autocomplete: "off", placeholder: "repository or tag"});
    const info = h("p", {class: "muted"});

    function repoSection(repo) {
      const images = [...(repo.images || [])].sort((a, b) => pushedAt(b) - pushedAt(a));
      const q = filter.value.trim().toLowerCase();
      const shown = q && !repo.repositoryName.toLowerCase().includes(q)
        ? images.filter((i) => (i.imageTags || []).some((t) => t.toLowerCase().includes(q))) : images;
      if (q && !shown.length) return null;
      return h("section", {class: "rg-repo", "aria-label": repo.repositoryName},
        h("h2", {}, repo.repositoryName),
        h("p", {class: "muted mono rg-uri"}, repo.repositoryUri,
          h("span", {class: "rg-settings"}, ` · tags ${String(repo.imageTagMutability || "").toLowerCase()}`,
            repo.imageScanningConfiguration && repo.imageScanningConfiguration.scanOnPush ? " · scan on push" : "",
            repo.lifecyclePolicy ? " · lifecycle policy" : "")),
        shown.length ? h("div", {class: "table-wrap"}, h("table", {class: "rg-images"},
          h("caption", {class: "visually-hidden"}, `Images in ${repo.repositoryName}`),
          h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Tags"), h("th", {scope: "col"}, "Digest"),
            h("th", {scope: "col"}, "Pushed"), h("th", {scope: "col", class: "hide-narrow"}, "Size"))),
          h("tbody", {}, shown.map((img) => h("tr", {},
            h("th", {scope: "row"}, (img.imageTags || []).length
              ? img.imageTags.map((t) => h("code", {class: "rg-tag"}, t)) : h("span", {class: "muted"}, "untagged")),
            h("td", {class: "mono rg-digest", title: img.imageDigest}, img.imageDigest.replace(/^(sha256:.{12}).*/, "$1…")),
            h("td", {}, img.imagePushedAt ? h("time", {datetime: img.imagePushedAt, title: fmt.time(pushedAt(img))},
              fmt.ago(pushedAt(img))) : "—"),
            h("td", {class: "hide-narrow"}, size(img.imageSizeInBytes))))))) :
          h("p", {class: "muted"}, "No images yet."));
    }
    function draw() {
      const repos = [...(data.repositories || [])].sort((a, b) => a.repositoryName.localeCompare(b.repositoryName));
      const images = repos.reduce((n, r) => n + (r.images || []).length, 0);
      info.textContent = `${data.registry || "registry"}: ${repos.length} repositor${repos.length === 1 ? "y" : "ies"}, `
        + `${images} image${images === 1 ? "" : "s"}`;
      const sections = repos.map(repoSection).filter(Boolean);
      list.replaceChildren(...(sections.length ? sections : [h("p", {class: "empty"},
        repos.length ? "Nothing matches the filter." : "No repository yet: a build that pushes an image creates one.")]));
    }
    filter.addEventListener("input", draw);
    main.append(h("h1", {}, "Registry"), info,
      h("div", {class: "pl-tools"}, h("label", {for: "rg-filter"}, "Filter repositories and tags"), filter), list);
    draw();

    let reading = false;
    let again = false;
    let closed = false;
    async function refresh() {
      if (reading) { again = true; return; }
      reading = true;
      try {
        data = await api.get("/api/v1/images");
        if (!closed) draw();
      } catch (e) {
        console.error(e);
      } finally {
        reading = false;
        if (again && !closed) { again = false; refresh(); }
      }
    }
    // a push or delete (a build's, a lifecycle run's, anyone's) is an image event
    const off = subscribe((ev) => ev.type === "image-pushed" || ev.type === "image-deleted", refresh);
    return () => { closed = true; off(); };
  },
};
