import { ExitCode, ProvflowError } from "../util/errors.js";

/** The one error of the MQTT layer: the broker cannot be reached, refuses us, or cannot start. */
export class MqttError extends ProvflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    // like an input that cannot be read at all
    super(message, ExitCode.input, options);
  }
}
