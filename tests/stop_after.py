"""A callback that ends training dead after some epochs, as a kill or Ctrl-C would."""

import keras


class StopAfter(keras.callbacks.Callback):
    """Raises `error` at the end of epoch `epochs`: after the callbacks before it (the backup) ran,
    and nothing after it does."""

    def __init__(self, epochs: int, error: type[BaseException] = KeyboardInterrupt):
        super().__init__()
        self.epochs, self.error = epochs, error

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise self.error
