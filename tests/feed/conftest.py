from tests.support.show import built_show, show  # noqa: F401  (fixtures)
