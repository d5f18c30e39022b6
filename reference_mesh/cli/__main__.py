from reference_mesh.cli import main

main()
