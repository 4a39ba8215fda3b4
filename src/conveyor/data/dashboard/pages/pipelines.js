// Placeholder: filled in by the dashboard work (issue 14).
export default {
  path: /^\/(?:pipelines\/?)?$/,
  title: "Pipelines",
  async render(main, params, ctx) {
    main.append(ctx.h("h1", {}, "Pipelines"));
  },
};
