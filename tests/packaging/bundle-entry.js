// Entry bundled by esbuild in the packaging test (platform "browser", format "esm"): the
// package is resolved by name through node_modules and its `exports`, as bundlers do.
import * as ns from "hf-inference-wasm";
import { InferenceClient, InferenceError, ChatStream, version } from "hf-inference-wasm";
import { publish } from "./scenario.js";

publish({ InferenceClient, InferenceError, ChatStream, version }, Object.keys(ns));
