// The exit-code table lives beside the gate that picks most of them (src/exit.ts).
export { EXIT, EXIT_HELP } from "../exit.js";
