"""Project commands of ``kedro`` (Kedro adds the ``cli`` group's commands).

kedro configure-data data/01_raw/my_customers.csv --env mine
kedro configure-data sqlite:///data/shop.db --table customers --env shop
kedro configure-data data/01_raw/orders.csv --env shop --transactions
"""

from __future__ import annotations

from pathlib import Path

import click

# The packaged entry point (`customer-segmentation`, __main__.py) looks for the
# run command in this module once it exists: Kedro's own, unchanged.
from kedro.framework.cli.project import run  # noqa: F401

from customer_segmentation.own_data import inspect_source, summary, write_environment
from customer_segmentation.own_reading import SourceError
from customer_segmentation.own_transactions import write_transactions_environment


@click.group(name="customer-segmentation")
def cli() -> None:
    """Commands of the customer-segmentation project."""


@cli.command("configure-data")
@click.argument("source")
@click.option("--env", "-e", "env", required=True, help="Name of the environment to write.")
@click.option("--table", default=None, help="The table to read, when SOURCE is a database URL.")
@click.option("--force", is_flag=True, help="Overwrite an existing environment.")
@click.option(
    "--transactions",
    is_flag=True,
    help="SOURCE is a transaction log (one line per purchase): segment its customers "
    "with --pipelines segmentation_from_transactions.",
)
@click.pass_obj
def configure_data(  # noqa: PLR0913 - one argument per option
    metadata, source: str, env: str, table: str | None, force: bool, transactions: bool
) -> None:
    """Inspect SOURCE (a CSV or Parquet file, or a database URL with --table)
    and write conf/ENV: how to read it and what every column is, with a
    comment on each inferred choice. SOURCE is only ever read."""
    project = Path(metadata.project_path) if metadata else Path.cwd()
    try:
        if transactions:
            _, lines = write_transactions_environment(source, env, project, table, force)
            click.echo("\n".join(lines))
            return
        inspection = inspect_source(source, table)
        written = write_environment(inspection, env, project, force)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(summary(inspection, env, [p.relative_to(project) for p in written]))


@cli.command("report")
@click.option("--env", "-e", "env", default="local", show_default=True, help="The environment.")
@click.option("--open", "open_report", is_flag=True, help="Open the report in the browser.")
@click.pass_obj
def report(metadata, env: str, open_report: bool) -> None:
    """Print the path of ENV's latest complete segment report (written by a
    run that finished; a failed or killed run's report is never shown)."""
    from customer_segmentation.run_summary import latest_report  # noqa: PLC0415

    project = Path(metadata.project_path) if metadata else Path.cwd()
    path = latest_report(project, env)
    click.echo(path)
    if open_report:
        click.launch(str(path))
