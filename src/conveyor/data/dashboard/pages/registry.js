// Placeholder: filled in by the dashboard work (issue 14).
export default {
  path: /^\/registry\/?$/,
  title: "Registry",
  async render(main, params, ctx) {
    main.append(ctx.h("h1", {}, "Registry"));
  },
};
