// Placeholder: filled in by the dashboard work (issue 14).
export default {
  path: /^\/dora\/?$/,
  title: "DORA metrics",
  async render(main, params, ctx) {
    main.append(ctx.h("h1", {}, "DORA metrics"));
  },
};
