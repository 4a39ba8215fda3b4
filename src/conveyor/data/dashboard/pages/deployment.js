// Placeholder: filled in by the dashboard work (issue 14).
export default {
  path: /^\/deployments\/([^/]+)$/,
  title: "Deployment",
  async render(main, params, ctx) {
    main.append(ctx.h("h1", {}, "Deployment"));
  },
};
