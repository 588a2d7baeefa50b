"""The one exception type that carries a message meant for the user."""


class NnvizError(Exception):
    """Bad input from the user (file, number, device, model).

    The message says what was wrong and what to do; the CLI prints it as
    ``nnviz: error: <message>`` and exits 2, the app shows it in a dialog.
    """
