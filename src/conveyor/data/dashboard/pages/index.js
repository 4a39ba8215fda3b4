// Every page, in matching order (the first whose path matches is shown).
import pipelines from "./pipelines.js";
import execution from "./execution.js";
import services from "./services.js";
import service from "./service.js";
import deployment from "./deployment.js";
import registry from "./registry.js";
import events from "./events.js";
import dora from "./dora.js";

export default [pipelines, execution, services, service, deployment, registry, events, dora];
